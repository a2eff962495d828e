"""Discord-facing pieces below the cogs: buttons, modals, message sending, the error boundary."""
