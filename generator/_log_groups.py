"""Log groups: what they are called, and when each is due to be created and torn down."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Final

from generator._dice import Dice
from generator._principals import Principal
from generator._world import APPS, Account

_FUNCTIONS: Final = (
    "api", "worker", "consumer", "handler", "processor", "scheduler", "authorizer",
    "stream", "dlq-redrive", "cron", "resize", "sync",
)  # fmt: skip


@dataclass(slots=True)
class LogGroup:
    """One log group and its configuration as the simulated calls have left it."""

    name: str
    arn: str
    kind: str
    app: str
    popularity: float
    birth: float  # run progress (0..1) from which the group is due to be created
    death: float | None = None
    reborn: float | None = None
    exists: bool = False
    last_change: int = -1  # eventTime (s) of the last create/delete; later calls come after it
    owner: Principal | None = None
    retention: int | None = None
    kms_key: str | None = None
    filters: dict[str, str] = field(default_factory=dict)
    protected: bool = False


def log_group_name(dice: Dice, account: Account) -> tuple[str, str, str]:
    """Draw a group's kind, app and name, in the naming style of the service that owns it."""
    environment = account.environment
    app = dice.choice(APPS)
    roll = dice.random()
    # Every candidate is drawn, whichever is picked, so the dice roll the same way each time.
    candidates: tuple[tuple[float, str, str], ...] = (
        (0.34, "lambda", f"/aws/lambda/{app}-{dice.choice(_FUNCTIONS)}-{environment}"),
        (0.46, "ecs", f"/ecs/{app}-{environment}"),
        (0.52, "ecs", f"/aws/ecs/containerinsights/{app}-{environment}/performance"),
        (0.58, "rds", f"/aws/rds/instance/{app}-db-{environment}/postgresql"),
        (0.61, "rds", f"/aws/rds/cluster/{app}-aurora-{environment}/postgresql"),
        (0.64, "flow", f"/aws/vpc/flow-logs/vpc-0{dice.hex_digits(16)}"),
        (0.68, "apigw", f"API-Gateway-Execution-Logs_{dice.hex_digits(10)}/{environment}"),
        (0.71, "apigw", f"/aws/apigateway/{app}-{environment}-access-logs"),
        (0.73, "eks", f"/aws/eks/{app}-{environment}/cluster"),
        (0.76, "codebuild", f"/aws/codebuild/{app}-build"),
        (0.79, "vended", f"/aws/vendedlogs/states/{app}-workflow-{environment}-Logs"),
        (0.84, "app", f"/app/{app}/{environment}"),
        (0.87, "app", f"{app}-{environment}"),
        (0.93, "ec2", f"/ec2/{app}/var/log/nginx/access.log"),
        (0.96, "ec2", f"/ec2/{app}/var/log/messages"),
        (0.98, "events", f"/aws/events/{app}-audit"),
        (1.0, "trail", f"aws-cloudtrail-logs-{account.account_id}-{dice.hex_digits(8)}"),
    )
    return next((kind, app, name) for bound, kind, name in candidates if roll < bound)


def draw_log_group(dice: Dice, *, kind: str, app: str, name: str, arn: str) -> LogGroup:
    """Draw when a group comes into being and whether (and when) it is torn down."""
    birth = 0.0 if dice.chance(0.35) else dice.uniform(0.0, 0.7)
    group = LogGroup(
        name=name,
        arn=arn,
        kind=kind,
        app=app,
        popularity=min(1.0, dice.lognormvariate(-1.2, 0.9)),
        birth=birth,
    )
    if dice.chance(0.15):  # some groups are decommissioned
        group.death = dice.uniform(max(birth + 0.1, 0.3), 0.97)
        if dice.chance(0.5):  # and half of those come back
            group.reborn = min(0.995, group.death + dice.uniform(0.01, 0.08))
    return group
