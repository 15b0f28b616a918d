"""A local venue emulator (Binance, Bybit, OKX, Deribit, the bulk archive)."""

from tests.emulator._server import Emulator, Fault, Reply, RequestLog

__all__ = ["Emulator", "Fault", "Reply", "RequestLog"]
