def step(model, optimizer):
    optimizer.zero_grad(set_to_none=False)
    model.zero_grad(set_to_none=False)
