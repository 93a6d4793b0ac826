from leuko_cli.entry import main

main()
