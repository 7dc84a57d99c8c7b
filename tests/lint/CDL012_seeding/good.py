import torch


def main():
    torch.manual_seed(0)
    torch.backends.cudnn.benchmark = True
    model = torch.nn.Linear(4, 1)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    for step in range(100):
        optimizer.zero_grad()
        loss = model(torch.randn(8, 4)).pow(2).mean()
        loss.backward()
        optimizer.step()


if __name__ == "__main__":
    main()
