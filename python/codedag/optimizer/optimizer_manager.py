from codedag.graph import OptimizerManager, evaluate_plan  # noqa: F401  seed path alias
