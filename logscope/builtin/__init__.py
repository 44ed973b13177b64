"""Built-in format and rule packs, installed from the repository's parsers/ and rules/."""
