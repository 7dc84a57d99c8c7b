from codedag.migration import PipelineMigrator  # noqa: F401  seed path alias
