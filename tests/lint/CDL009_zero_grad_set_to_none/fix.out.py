def step(model, optimizer):
    optimizer.zero_grad(set_to_none=True)
    model.zero_grad(set_to_none=True)
