"""gmmx: fast Gaussian mixture models by EM."""
