"""On-demand explanations (SHAP); never on the prediction hot path."""
