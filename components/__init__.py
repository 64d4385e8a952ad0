"""Custom TFX components of mmcs (only where no stock TFX component fits)."""
