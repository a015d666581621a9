package cgroups

// HoldChildEnv makes the test binary run holdChild (for the external tests).
const HoldChildEnv = childEnv + "=hold"
