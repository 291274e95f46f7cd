"""newsrec: editorial news recommendations for Django sites."""
