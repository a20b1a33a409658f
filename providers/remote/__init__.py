"""What every hosted vendor needs: error translation, circuit breakers, secrets."""
