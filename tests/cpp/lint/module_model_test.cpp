// The context the rules rely on: qualified names, hot-loop classification, def-use kinds.
#include "codedag/lint/module_model.hpp"

#include <gtest/gtest.h>

#include "codedag/lint/config.hpp"

namespace codedag::lint {
namespace {

struct Parsed {
  std::unique_ptr<Tree> tree;
  LintSettings settings;
  std::unique_ptr<ModuleModel> model;
  explicit Parsed(const std::string& code, LintSettings s = {}) : settings(std::move(s)) {
    tree = Tree::parse(SourceText("m.py", code));
    model = std::make_unique<ModuleModel>(*tree, settings);
  }
  const CallSite& call(const std::string& text) const {
    for (const auto& c : model->calls())
      if (c.call.text(model->src()) == text) return c;
    throw std::runtime_error("no call " + text);
  }
};

TEST(ModuleModel, DataLoopsThroughAliasesAndWrappers) {
  Parsed p(
      "from torch.utils.data import DataLoader as DL\n"
      "from tqdm import tqdm\n"
      "def train(ds, other):\n"
      "    dl = DL(ds)\n"
      "    for i, b in enumerate(tqdm(dl)):\n"
      "        b.item()\n"
      "    for x in other:\n"
      "        x.item()\n"
      "    it = iter(dl)\n"
      "    while True:\n"
      "        batch = next(it)\n"
      "        batch.sum().item()\n");
  EXPECT_TRUE(p.call("b.item()").context.hot);
  EXPECT_EQ(p.call("b.item()").context.hot_loop->index_name, "i");
  EXPECT_FALSE(p.call("x.item()").context.hot);
  EXPECT_TRUE(p.call("batch.sum().item()").context.hot);
  EXPECT_EQ(p.call("DL(ds)").qualified, "torch.utils.data.DataLoader");
}

TEST(ModuleModel, LoopsThatTrainAreHotAndLightningStepsToo) {
  Parsed p(
      "import torch\n"
      "def fit(model, batches, opt):\n"
      "    for epoch in range(3):\n"
      "        for b in batches:\n"
      "            loss = model(b).sum()\n"
      "            loss.backward()\n"
      "            opt.step()\n"
      "        print(epoch)\n"
      "class M(torch.nn.Module):\n"
      "    def training_step(self, batch, i):\n"
      "        return self(batch).sum()\n"
      "    def helper(self):\n"
      "        return self(1)\n",
      [] {
        LintSettings s;
        s.hot_loop_functions = {"helper"};
        return s;
      }());
  EXPECT_TRUE(p.call("opt.step()").context.hot);
  EXPECT_FALSE(p.call("print(epoch)").context.hot);  // the epoch loop is not a step loop
  EXPECT_TRUE(p.call("self(batch)").context.hot);
  EXPECT_TRUE(p.call("self(1)").context.hot);  // hot-loop-functions
  EXPECT_TRUE(p.model->is_module_class("M"));
}

TEST(ModuleModel, GuardsAndGradContexts) {
  Parsed p(
      "import torch\n"
      "def train(loader, model, rank):\n"
      "    for step, (x, y) in enumerate(loader):\n"
      "        if step % 10 == 0:\n"
      "            a(x)\n"
      "        else:\n"
      "            b(x)\n"
      "        with torch.no_grad():\n"
      "            c(x)\n"
      "        if rank == 0:\n"
      "            d(x)\n"
      "        e(x)\n");
  EXPECT_TRUE(p.call("a(x)").context.periodic_guard);
  EXPECT_TRUE(p.call("b(x)").context.periodic_guard);
  EXPECT_TRUE(p.call("c(x)").context.grad_disabled);
  EXPECT_TRUE(p.call("d(x)").context.rank_guard);
  const Context& e = p.call("e(x)").context;
  EXPECT_FALSE(e.periodic_guard || e.grad_disabled || e.rank_guard);
}

TEST(ModuleModel, DefUseKinds) {
  Parsed p(
      "import torch\nimport torch.nn as nn\nimport torch.nn.functional as F\n"
      "class Net(nn.Module):\n"
      "    def __init__(self):\n"
      "        super().__init__()\n"
      "        self.crit = nn.CrossEntropyLoss()\n"
      "    def forward(self, x, y):\n"
      "        out = self(x)\n"
      "        loss = self.crit(out, y)\n"
      "        det = loss.detach()\n"
      "        n = loss.item()\n"
      "        f = F.mse_loss(out, y)\n"
      "        opt = torch.optim.AdamW([])\n"
      "        sz = out.shape[0]\n"
      "        use(out, loss, det, n, f, opt, sz)\n");
  const CallSite& use = p.call("use(out, loss, det, n, f, opt, sz)");
  const Node args = use.call.field("arguments");
  const auto k = [&](uint32_t i) { return p.model->kinds(args.named_child(i), use.context.function); };
  EXPECT_TRUE(k(0) & kGradHistory);  // model output
  EXPECT_TRUE(k(1) & kGradHistory);  // criterion(...) via self.crit
  EXPECT_TRUE(k(2) & kTensor);
  EXPECT_FALSE(k(2) & kGradHistory);  // detached
  EXPECT_EQ(k(3), static_cast<uint32_t>(kPythonScalar));
  EXPECT_TRUE(k(4) & kGradHistory);  // functional loss
  EXPECT_TRUE(k(5) & kOptimizer);
  EXPECT_FALSE(k(6) & kTensor);  // .shape[0] is a number
}

}  // namespace
}  // namespace codedag::lint
