"""Recipe search: "find the best recipe" for a labelled target (and a source, if any).

A small stated set of candidates (tlcore.search.candidates) is tried by successive halving
on the target validation split within a time budget (tlcore.search.halving); the run store's
worker then retrains the winner as the search run itself, an ordinary run
(tlcore.runs.search_run)."""
from .candidates import EPOCHS, Recipe, candidate_configs, recipes
from .halving import (DEFAULT_BUDGET_S, MIN_BUDGET_S, RUNGS, Candidate, SearchError, SearchOutcome,
                      search)

__all__ = ["DEFAULT_BUDGET_S", "EPOCHS", "MIN_BUDGET_S", "RUNGS", "Candidate", "Recipe", "SearchError",
           "SearchOutcome", "candidate_configs", "recipes", "search"]
