"""sirefund — 城乡居民社会保险费退费 (refunds of urban-rural residents' social insurance fees)."""

__version__ = "0.1.0"
