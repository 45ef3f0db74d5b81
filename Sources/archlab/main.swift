print("archlab")
