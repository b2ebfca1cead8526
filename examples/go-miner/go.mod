module minebench.example/go-miner

go 1.19
