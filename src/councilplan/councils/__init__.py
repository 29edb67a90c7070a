"""councils"""
