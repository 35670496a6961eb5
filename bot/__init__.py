"""paperbot: Hugging Face Daily Papers in Discord.

Importing this package has no side effects: no logging setup, no settings are read.
"""

__version__ = "0.1.0"
