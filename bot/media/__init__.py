"""Media a task carries: what it is (`kinds`), fetching it safely (`addresses`, `download`),
fitting images to an upload limit (`fit`), and what a finished job uploads (`final`)."""
