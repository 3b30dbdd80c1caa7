"""Aurora fleet simulator: real-format logs served through an extended moto RDS API."""
