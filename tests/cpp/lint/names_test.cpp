#include "codedag/lint/names.hpp"

#include <gtest/gtest.h>

namespace codedag::lint {
namespace {

ImportTable imports_of(const std::string& code, std::unique_ptr<Tree>& keep) {
  keep = Tree::parse(SourceText("f.py", code));
  ImportTable t;
  for (uint32_t i = 0; i < keep->root().named_child_count(); ++i) t.add(keep->root().named_child(i), keep->source());
  return t;
}

TEST(ImportTable, ResolvesAliasesAndFromImports) {
  std::unique_ptr<Tree> keep;
  const ImportTable t = imports_of(
      "import torch\nimport torch.nn as nn\nimport numpy as np, os.path\n"
      "from torch.utils.data import DataLoader as DL, TensorDataset\nfrom . import sibling\n",
      keep);
  EXPECT_EQ(t.resolve("torch.load"), "torch.load");
  EXPECT_EQ(t.resolve("nn.functional.mse_loss"), "torch.nn.functional.mse_loss");
  EXPECT_EQ(t.resolve("DL"), "torch.utils.data.DataLoader");
  EXPECT_EQ(t.resolve("TensorDataset"), "torch.utils.data.TensorDataset");
  EXPECT_EQ(t.resolve("np.random.rand"), "numpy.random.rand");
  EXPECT_EQ(t.resolve("os.path.join"), "os.path.join");
  EXPECT_EQ(t.resolve("print"), "print");          // builtins stay as written
  EXPECT_EQ(t.resolve("sibling.f"), "sibling.f");  // relative imports are this package's code
  EXPECT_EQ(t.local_name_of("torch"), "torch");
}

TEST(DottedName, OnlyNameChains) {
  auto t = Tree::parse(SourceText("f.py", "a.b.c\nf().b\nx[0].y\n"));
  const auto expr = [&](int i) { return t->root().named_child(i).named_child(0); };
  EXPECT_EQ(dotted_name(expr(0), t->source()), "a.b.c");
  EXPECT_EQ(dotted_name(expr(1), t->source()), "");
  EXPECT_EQ(dotted_name(expr(2), t->source()), "");
  EXPECT_EQ(last_component("torch.nn.MSELoss"), "MSELoss");
  EXPECT_TRUE(is_under("torch.optim.Adam", "torch.optim"));
  EXPECT_FALSE(is_under("torch.optimizer", "torch.optim"));
}

}  // namespace
}  // namespace codedag::lint
