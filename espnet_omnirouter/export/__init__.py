"""ONNX export of the plugin's ASR models (dense, Switch, Omni-router, U2++ MoE), with
sparse expert routing kept in the exported graphs; see ``exporter.export_model``."""
