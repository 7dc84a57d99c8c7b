#include "codedag/trace/filter_rules.hpp"

#include <gtest/gtest.h>

#include <tuple>

using namespace codedag::trace;

TEST(GlobMatch, StarsAndQuestionMarks) {
  EXPECT_TRUE(glob_match("*.resize", "cv2.resize"));
  EXPECT_TRUE(glob_match("pkg.?udio.*", "pkg.audio.MelSpec.__call__"));
  EXPECT_FALSE(glob_match("pkg.*", "other.pkg.f"));
  EXPECT_TRUE(glob_match("*", ""));
  EXPECT_FALSE(glob_match("a*b", "acd"));
}

FilterRules rules() {
  FilterRules r;
  r.own_prefixes = {"/site/codedag/"};
  r.machinery_prefixes = {"/x/site-packages/torch/utils/data/"};
  r.stdlib_prefixes = {"/usr/lib/python3.11/"};
  r.stdlib_modules = {"math", "_io", "builtins"};
  return r;
}

TEST(FilterRules, DefaultsFoldPlumbingAndKeepThePipeline) {
  const FilterRules r = rules();
  EXPECT_TRUE(r.python("/home/me/pipe.py", "pipe", "Aug.__call__", "__call__").record);
  EXPECT_TRUE(r.python("/home/me/pipe.py", "pipe", "f", "f").user);
  EXPECT_FALSE(r.python("/home/me/pipe.py", "pipe", "f.<locals>.<listcomp>", "<listcomp>").record);
  EXPECT_TRUE(r.python("/home/me/pipe.py", "pipe", "<lambda>", "<lambda>").record);
  EXPECT_FALSE(r.python("/site/codedag/trace/tracer.py", "codedag.trace.tracer", "x", "x").record);
  EXPECT_FALSE(r.python("/usr/lib/python3.11/threading.py", "threading", "Thread.run", "run").record);
  EXPECT_FALSE(r.python("<frozen runpy>", "runpy", "_run_code", "_run_code").record);
  const auto fetch = r.python("/x/site-packages/torch/utils/data/_utils/fetch.py", "f", "F.fetch", "fetch");
  EXPECT_FALSE(fetch.record);
  EXPECT_FALSE(fetch.library);
  EXPECT_TRUE(r.python("/x/site-packages/torch/utils/data/_utils/collate.py", "c", "default_collate", "default_collate")
                  .record);
  const auto lib = r.python("/x/site-packages/numpy/fft.py", "numpy.fft", "rfft", "rfft");
  EXPECT_TRUE(lib.record && lib.library && lib.third_party && !lib.transform_step);
  EXPECT_TRUE(r.python("/x/site-packages/tv/t.py", "tv", "ToTensor.__call__", "__call__").transform_step);
}

TEST(FilterRules, BuiltinsByModule) {
  const FilterRules r = rules();
  EXPECT_FALSE(r.builtin("builtins", "len").record);
  EXPECT_FALSE(r.builtin("math", "sqrt").record);
  EXPECT_FALSE(r.builtin("_io", "TextIOWrapper.read").record);
  const auto cv = r.builtin("cv2", "resize");
  EXPECT_TRUE(cv.record && cv.third_party);
}

TEST(FilterRules, UserPatternsWin) {
  FilterRules r = rules();
  r.include = {"threading.Thread.run"};
  r.exclude = {"pipe.noisy*", "*/generated/*"};
  EXPECT_TRUE(r.python("/usr/lib/python3.11/threading.py", "threading", "Thread.run", "run").record);
  EXPECT_FALSE(r.python("/home/me/pipe.py", "pipe", "noisy_helper", "noisy_helper").record);
  EXPECT_FALSE(r.python("/home/me/generated/x.py", "x", "f", "f").record);
  r.exclude = {"cv2.*"};
  EXPECT_FALSE(r.builtin("cv2", "resize").record);
}

TEST(FilterRules, ModuleCallMachineryIsTransparentAndDispatchersHidden) {
  const FilterRules r = rules();
  const auto wrapped = r.python("/x/site-packages/torch/nn/modules/module.py", "torch.nn.modules.module",
                                "Module._wrapped_call_impl", "_wrapped_call_impl");
  EXPECT_TRUE(wrapped.transparent);
  EXPECT_FALSE(wrapped.record);
  EXPECT_TRUE(r.python("/x/site-packages/torch/nn/modules/module.py", "torch.nn.modules.module", "Module._call_impl",
                       "_call_impl")
                  .transparent);
  // A module's own forward stays a context; other Module methods are ordinary library code.
  EXPECT_FALSE(
      r.python("/x/site-packages/torch/nn/modules/module.py", "torch.nn.modules.module", "Module.train", "train")
          .transparent);
  const auto dispatcher = r.python("/x/site-packages/numpy/_core/fromnumeric.py", "numpy._core.fromnumeric",
                                   "_clip_dispatcher", "_clip_dispatcher");
  EXPECT_FALSE(dispatcher.record);
  EXPECT_FALSE(dispatcher.third_party);  // not a library call to report either
  EXPECT_TRUE(dispatcher.library);       // what it calls is folded as library work
  EXPECT_TRUE(
      r.python("/x/site-packages/numpy/_core/fromnumeric.py", "numpy._core.fromnumeric", "clip", "clip").record);
  // User code named like a dispatcher is the user's: recorded.
  EXPECT_TRUE(r.python("/home/me/pipe.py", "pipe", "_my_dispatcher", "_my_dispatcher").record);
}

// The library decision reaches the hook as package directories: a dependency installed with
// `pip --target` (no site-packages in its path) is library code; a package the user declared their
// own is user code even inside site-packages; the longest directory wins; markers are the fallback.
TEST(FilterRules, LibraryDecisionByPackageDirectory) {
  FilterRules r = rules();
  r.library_prefixes = {"/opt/deps/pkgx/", "/home/me/proj/vendor/lib1/"};
  r.user_prefixes = {"/x/site-packages/mine/", "/home/me/proj/"};
  const auto target = r.python("/opt/deps/pkgx/core.py", "pkgx.core", "_helper", "_helper");
  EXPECT_TRUE(target.library && target.third_party && !target.user);
  const auto declared_own = r.python("/x/site-packages/mine/aug.py", "mine.aug", "flip", "flip");
  EXPECT_TRUE(declared_own.user && !declared_own.library);
  EXPECT_TRUE(r.python("/home/me/proj/vendor/lib1/a.py", "lib1.a", "f", "f").library);
  EXPECT_TRUE(r.python("/home/me/proj/data.py", "data", "f", "f").user);
  EXPECT_TRUE(r.python("/x/site-packages/numpy/fft.py", "numpy.fft", "rfft", "rfft").library);  // fallback
}

TEST(FilterRules, TestingAndDebuggingToolsAreFoldedLikeMachinery) {
  // pytest's hooks (pluggy's _HookCaller.__call__, a warnings capture) can run inside a traced
  // block: none of it is the pipeline, wherever the tool is installed.
  const FilterRules r = rules();
  for (const auto& [module, qualname, name] :
       {std::tuple{"pluggy._tracing", "TagTracerSub.__call__", "__call__"},
        std::tuple{"_pytest.warnings", "catch_warnings_for_item", "catch_warnings_for_item"},
        std::tuple{"coverage.collector", "Collector._start_tracer", "_start_tracer"}}) {
    const Decision d = r.python("/x/site-packages/tool/m.py", module, qualname, name);
    EXPECT_FALSE(d.record || d.library || d.user || d.third_party || d.transform_step) << module;
  }
  const Decision c = r.builtin("coverage.tracer", "CTracer.start");
  EXPECT_FALSE(c.record || c.third_party);
  // Only the top-level name counts: a user's module named like a tool's submodule is the user's.
  EXPECT_TRUE(r.python("/home/me/pipe.py", "mypkg.pytest_utils", "f", "f").record);
}

TEST(FilterRules, ImportsAndJitCompilationAreWarmUp) {
  const FilterRules r = rules();
  const Decision load =
      r.python("<frozen importlib._bootstrap>", "_frozen_importlib", "_find_and_load", "_find_and_load");
  EXPECT_TRUE(load.warmup);
  EXPECT_FALSE(load.record);
  const Decision jit = r.python("/x/site-packages/numba/core/dispatcher.py", "numba.core.dispatcher",
                                "_DispatcherBase._compile_for_args", "_compile_for_args");
  EXPECT_TRUE(jit.warmup && !jit.record);
  // The functions around them are not warm-up.
  EXPECT_FALSE(
      r.python("<frozen importlib._bootstrap>", "_frozen_importlib", "_lock_unlock_module", "_lock_unlock_module")
          .warmup);
  EXPECT_FALSE(r.python("/x/site-packages/numba/core/dispatcher.py", "numba.core.dispatcher",
                        "_DispatcherBase._explain_matching_error", "_explain_matching_error")
                   .warmup);
}
