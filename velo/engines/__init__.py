"""The three engines (SQPE, TIE, NDS) and the orchestrator that combines them."""
