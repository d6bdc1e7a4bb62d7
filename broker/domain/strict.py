"""The base of every contract model: unknown fields are errors, instances are immutable."""

from pydantic import BaseModel, ConfigDict


class StrictModel(BaseModel):
    # hide_input_in_errors: a ValidationError printed anywhere (a log line, a traceback) shows
    # what was wrong, never the value, which may be personal data
    model_config = ConfigDict(
        extra="forbid", frozen=True, str_strip_whitespace=False, hide_input_in_errors=True
    )
