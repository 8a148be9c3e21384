"""WeChat group operations playbook: simulation, metrics, loaders, batch reports."""
