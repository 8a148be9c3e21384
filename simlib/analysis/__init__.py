"""Analysis helpers behind the playbook notebooks (one module per notebook dimension)."""
