"""Command handlers by feature area; the table in ``bot.commands`` wires them up."""
