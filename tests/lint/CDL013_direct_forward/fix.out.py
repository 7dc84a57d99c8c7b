def predict(model, x):
    return model(x)
