"""Real-time delivery: the per-process hub and the Server-Sent Events stream."""
