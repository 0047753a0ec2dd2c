"""x_G's optimisation: Adam and L-BFGS on the objective, the steps both share, the variable x_G
is held as (optim.domain), and a step's memory model."""
