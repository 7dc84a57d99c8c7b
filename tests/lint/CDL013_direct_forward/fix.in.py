def predict(model, x):
    return model.forward(x)
