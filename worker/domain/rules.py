"""How the domain refuses a command."""


class RuleViolation(Exception):
    """A command that breaks a rule: refused, nothing changed. `field` is the dotted path
    of the command's field to blame."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message
