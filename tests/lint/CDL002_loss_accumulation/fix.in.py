def train(model, loader, optimizer, criterion):
    running = 0
    for x, y in loader:
        loss = criterion(model(x), y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        running += loss
        running = running + loss * 2
    print(running)
