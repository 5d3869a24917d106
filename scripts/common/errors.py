"""Errors a step reports to SageMaker, and the exit code each one means."""

EXIT_INTERNAL = 1  # a bug or an environment fault: worth a retry or a bug report
EXIT_BAD_INPUT = 2  # the caller's data or configuration is wrong: a retry will not help
EXIT_INTERRUPTED = 130  # SIGINT (Ctrl-C in a local run): 128 + 2
EXIT_STOPPED = 143  # SIGTERM (spot interruption, StopTrainingJob): 128 + 15, as a shell reports it


class StepError(Exception):
    """A problem the caller can fix: bad data, a bad hyperparameter, a missing channel.

    The message is shown to the user as the job's FailureReason, so it names the
    file, row, column or key at fault.
    """

    exit_code = EXIT_BAD_INPUT


class ConfigError(StepError):
    """A missing or malformed SageMaker configuration file, channel or hyperparameter."""


class DataError(StepError):
    """Input data that cannot be used: unreadable, empty, or missing what the step needs."""


class Stopped(Exception):
    """Raised when SIGTERM asks the step to stop; the step saves what it can first."""

    exit_code = EXIT_STOPPED
