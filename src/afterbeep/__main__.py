from afterbeep.cli import main

main()
