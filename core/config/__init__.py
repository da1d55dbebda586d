"""The stack file's configuration, one module per section (its model, defaults and cross-field rules).

`base` holds what every section shares (the closed camelCase model, problems and their key paths, the
translation of pydantic's errors into messages); `stack_config` composes the sections into `StackConfig`
and validates a whole stack at once.
"""
