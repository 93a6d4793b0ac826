from leuko_cli.cli import main

main()
