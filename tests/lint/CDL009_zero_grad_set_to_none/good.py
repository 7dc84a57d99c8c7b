def step(model, optimizer):
    optimizer.zero_grad()
    model.zero_grad(set_to_none=True)
