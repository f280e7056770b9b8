"""The options of one load run, defined once.

The same fields are Locust command-line arguments (so ``locust -f
load/locustfile.py --workload mixed`` works, each with a ``LOCUST_*`` variable and
a field in Locust's web UI), the arguments the runner passes to the Locust
process it starts, and the options of ``ollama-harness load``.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any

from ollama_harness.load.profiles import (
    PROFILE_NAMES,
    ProfileError,
    Stage,
    get_profile,
    parse_stages,
)
from ollama_harness.load.slo import Objective, parse_slo
from ollama_harness.load.workload import APIS, CHAT_ONLY, parse_mix


@dataclass(frozen=True)
class Option:
    flag: str
    help: str
    default: Any
    type: type = str
    choices: tuple[str, ...] | None = None


#: Our options, by attribute name. Locust owns --users, --host, --processes etc.
OPTIONS: dict[str, Option] = {
    "workload": Option(
        "--workload", "load profile: " + ", ".join(PROFILE_NAMES), "steady", choices=PROFILE_NAMES
    ),
    "model": Option("--model", "model for chat and generate requests", "smollm2:135m"),
    "embed_model": Option("--embed-model", "model for embed requests (default: --model)", ""),
    "api": Option(
        "--api",
        "native: NDJSON on /api/*; openai: SSE on /v1/*; anthropic: /v1/messages; "
        "responses: /v1/responses (both chat only)",
        "native",
        choices=APIS,
    ),
    "duration": Option("--duration", "length of the run, a Go duration (30s, 2m)", "30s"),
    "rate": Option(
        "--rate", "open-loop profiles: requests per second across all workers", 0.0, float
    ),
    "slo": Option("--slo", "objectives for goodput, e.g. ttft_p95=500ms,itl_p95=50ms", ""),
    "report_dir": Option("--report-dir", "where summary.json, samples.csv and report.html go", ""),
    "max_tokens": Option(
        "--max-tokens", "output budget of every request (default: the dataset's)", 0, int
    ),
    "mix": Option("--mix", "request mix overriding the profile's, e.g. chat=5,embed=1", ""),
    "stages": Option(
        "--stages", "ramp profile: LENGTH:USERS[:SPAWN_RATE],... (overrides --duration)", ""
    ),
    "seed": Option("--seed", "seed of request choice and Poisson arrivals", 1, int),
    "request_timeout": Option(
        "--request-timeout", "seconds a socket read may wait before the request fails", 300.0, float
    ),
    "drain_timeout": Option(
        "--drain-timeout",
        "seconds in-flight requests get to finish after the run (later ones are cut off)",
        30.0,
        float,
    ),
    "no_stream": Option("--no-stream", "send stream:false and time whole responses", False, bool),
    "progress": Option("--progress", "live progress line on stderr: auto, on, off", "auto"),
}


def add_locust_arguments(parser: Any) -> None:
    """Register every option on Locust's (configargparse) parser."""
    group = parser.add_argument_group("ollama-harness", "load profiles for Ollama's API")
    for name, option in OPTIONS.items():
        env = "LOCUST_" + name.upper()
        if option.type is bool:
            group.add_argument(
                option.flag, action="store_true", default=False, help=option.help, env_var=env
            )
            continue
        group.add_argument(
            option.flag,
            type=option.type,
            default=option.default,
            choices=option.choices,
            help=option.help,
            env_var=env,
        )


@dataclass(frozen=True)
class RunOptions:
    """The validated options of one run (what every process of the run agrees on)."""

    workload: str = "steady"
    model: str = "smollm2:135m"
    embed_model: str = ""
    api: str = "native"
    duration: str = "30s"
    rate: float = 0.0
    slo: str = ""
    report_dir: str = ""
    max_tokens: int = 0
    mix: str = ""
    stages: str = ""
    seed: int = 1
    request_timeout: float = 300.0
    drain_timeout: float = 30.0
    no_stream: bool = False
    progress: str = "auto"
    users: int = 0  # Locust's --users; 0 means the profile's default

    @classmethod
    def from_namespace(cls, namespace: Any) -> RunOptions:
        values = {
            f.name: getattr(namespace, f.name)
            for f in fields(cls)
            if f.name != "users" and hasattr(namespace, f.name)
        }
        users = getattr(namespace, "num_users", None) or 0
        return cls(**values, users=int(users))

    def validate(self) -> None:
        """Raise ``ValueError`` (with the option's name) for anything unusable."""
        if self.workload != "sweep":
            get_profile(self.workload)
        if self.api not in APIS:
            raise ValueError(f"--api must be one of {APIS}")
        if self.duration_s <= 0:
            raise ValueError("--duration must be positive")
        if self.rate < 0:
            raise ValueError("--rate must be >= 0")
        profile = get_profile(self.workload) if self.workload != "sweep" else None
        if profile is not None and profile.open_loop and self.rate <= 0:
            raise ValueError(f"profile {self.workload!r} is open loop: give --rate")
        if self.max_tokens < 0:
            raise ValueError("--max-tokens must be >= 0")
        if self.request_timeout <= 0 or self.drain_timeout < 0:
            raise ValueError("--request-timeout must be > 0 and --drain-timeout >= 0")
        if self.users < 0:
            raise ValueError("--users must be >= 0")
        # parse the composite options now, so a typo fails before any request
        parse_slo(self.slo)
        if self.mix:
            parse_mix(self.mix)
        if self.api in CHAT_ONLY and self.mix_weights.get("embed", 0) > 0:
            raise ValueError(f"--api {self.api} has no embeddings: give a --mix without embed")
        if self.workload != "sweep":
            _ = self.stage_list

    @property
    def duration_s(self) -> float:
        from ollama_harness.core.durations import DurationError, parse_go_duration

        if self.stages:
            return self.stage_list[-1].until_s
        try:
            return parse_go_duration(self.duration)
        except DurationError as exc:
            raise ValueError(f"--duration: {exc}") from None

    @property
    def objectives(self) -> tuple[Objective, ...]:
        return parse_slo(self.slo)

    @property
    def mix_weights(self) -> dict[str, float]:
        if self.mix:
            return parse_mix(self.mix)
        if self.workload == "sweep":
            return {"chat": 0.5, "generate": 0.5}
        return dict(get_profile(self.workload).mix)

    @property
    def user_count(self) -> int:
        if self.users:
            return self.users
        return get_profile(self.workload).default_users if self.workload != "sweep" else 8

    @property
    def stage_list(self) -> list[Stage]:
        if self.stages:
            try:
                return parse_stages(self.stages)
            except ProfileError as exc:
                raise ValueError(f"--stages: {exc}") from None
        duration = self.duration_s
        return get_profile(self.workload).stages(duration, self.user_count)

    def locust_args(self) -> list[str]:
        """These options as arguments of a Locust process running load/locustfile.py."""
        args: list[str] = []
        for name, option in OPTIONS.items():
            value = getattr(self, name)
            if option.type is bool:
                if value:
                    args.append(option.flag)
            elif value != option.default:
                args += [option.flag, str(value)]
        return args

    def describe(self) -> dict[str, Any]:
        """What the summary's ``run`` section records about the options."""
        return {
            "profile": self.workload,
            "model": self.model,
            "embed_model": self.embed_model or self.model,
            "api": self.api,
            "duration_s": self.duration_s,
            "users": self.user_count,
            "rate": self.rate or None,
            "slo": self.slo or None,
            "mix": self.mix_weights,
            "stream": not self.no_stream,
            "max_tokens": self.max_tokens or None,
            "seed": self.seed,
        }
