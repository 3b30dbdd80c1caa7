"""Contract test servers that stand in for services our tests cannot run."""
