"""Packaging for excel_nb: every field is read from settings.ini (nbdev 2 convention)."""
from configparser import ConfigParser
from pathlib import Path

import setuptools

cfg = ConfigParser(delimiters=['='])
cfg.read(Path(__file__).parent / 'settings.ini', encoding='utf-8')
cfg = cfg['DEFAULT']

licenses = {'apache2': ('Apache Software License 2.0', 'OSI Approved :: Apache Software License')}
lic = licenses[cfg['license']]
statuses = ['1 - Planning', '2 - Pre-Alpha', '3 - Alpha', '4 - Beta', '5 - Production/Stable']
py_versions = ['3.10', '3.11', '3.12']
min_python = cfg['min_python']
readme = Path(__file__).parent / 'README.md'

setuptools.setup(
    name=cfg['lib_name'].replace('_', '-'),
    version=cfg['version'],
    license=lic[0],
    classifiers=[f"Development Status :: {statuses[int(cfg['status']) - 1]}",
                 f"Intended Audience :: {cfg['audience']}",
                 f"License :: {lic[1]}",
                 f"Natural Language :: {cfg['language']}"]
                + [f'Programming Language :: Python :: {v}' for v in py_versions[py_versions.index(min_python):]],
    url=cfg['git_url'],
    packages=setuptools.find_packages(include=['excel_nb', 'excel_nb.*']),
    include_package_data=True,
    package_data={'excel_nb': ['assets/*', 'assets/**/*']},
    install_requires=cfg['requirements'].split(),
    extras_require={'dev': cfg['dev_requirements'].split()},
    python_requires='>=' + min_python,
    long_description=readme.read_text(encoding='utf-8') if readme.exists() else cfg['description'],
    long_description_content_type='text/markdown',
    zip_safe=False,
    entry_points={'console_scripts': cfg['console_scripts'].split(),
                  'nbdev': [f"{cfg['lib_path']}={cfg['lib_path']}._modidx:d"]},
    author=cfg['author'], author_email=cfg['author_email'], description=cfg['description'],
    keywords=cfg['keywords'],
)
