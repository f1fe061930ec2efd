from referrals.cli import main

main()
