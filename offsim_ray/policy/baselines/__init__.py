"""Plain-torch trainers on the offline data: BC and Table 1's offline IRL baselines (CLARE and ML-IRL, which
roll out in a dynamics ensemble; IQ-Learn)."""
