"""The one error a request can cause: it carries its HTTP status and a message for the client."""


class RequestError(Exception):
    """A client's mistake (4xx) with a message that names what to fix, e.g. the row and column."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status
