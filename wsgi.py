from config import create_app

app = create_app()
