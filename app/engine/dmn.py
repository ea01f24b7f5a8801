"""Decision tables: SpiffWorkflow's DMN engine with one fix — an input entry such as ``in ["A", "B"]``
is joined to its input expression with a space, so ``lead_agency`` + ``in [...]`` works (3.2.0 glues
them into ``lead_agencyin [...]``)."""

from __future__ import annotations

from SpiffWorkflow.dmn.engine.DMNEngine import DMNEngine


class PortalDMNEngine(DMNEngine):
    def evaluate(self, input_expr, match_expr, task):
        if input_expr is not None and match_expr is not None:
            input_expr = f"({input_expr}) "
        return super().evaluate(input_expr, match_expr, task)
