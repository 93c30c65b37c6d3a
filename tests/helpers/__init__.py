"""Test helpers: servers, clients, fakes and fixtures shared by the test folders."""
