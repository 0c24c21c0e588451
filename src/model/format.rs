//! The document formats labelscan tells apart, as reported in the `format` column.

use serde::{Deserialize, Serialize};

/// The formats labelscan reads, as reported in the `format` column.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Format {
    Docx,
    Xlsx,
    Pptx,
    /// An OOXML package of another kind (e.g. Visio, or a broken docx).
    OoxmlOther,
    Odt,
    Ods,
    Odp,
    Pdf,
    Doc,
    Xls,
    Ppt,
    /// An OLE2 compound file that is not Word, Excel or PowerPoint (msg, msi...).
    OleOther,
    /// OOXML encrypted with a password or IRM: an OLE file holding `EncryptedPackage`.
    EncryptedOoxml,
    Rtf,
    /// WordPerfect 4.2 (no header; recognised by its function codes in a
    /// file named `.doc` or `.wpd`).
    WordPerfect,
    Text,
    Csv,
    Zip,
    Unsupported,
}

impl Format {
    pub fn as_str(self) -> &'static str {
        match self {
            Format::Docx => "docx",
            Format::Xlsx => "xlsx",
            Format::Pptx => "pptx",
            Format::OoxmlOther => "ooxml",
            Format::Odt => "odt",
            Format::Ods => "ods",
            Format::Odp => "odp",
            Format::Pdf => "pdf",
            Format::Doc => "doc",
            Format::Xls => "xls",
            Format::Ppt => "ppt",
            Format::OleOther => "ole",
            Format::EncryptedOoxml => "ooxml_encrypted",
            Format::Rtf => "rtf",
            Format::WordPerfect => "wordperfect",
            Format::Text => "text",
            Format::Csv => "csv",
            Format::Zip => "zip",
            Format::Unsupported => "unsupported",
        }
    }

    /// The format a file's extension claims, for files whose content is too
    /// broken to tell (so that a truncated .docx is reported as a corrupt docx).
    pub fn from_extension(name: &str) -> Option<Format> {
        let ext = name.rsplit_once('.')?.1.to_ascii_lowercase();
        Some(match ext.as_str() {
            "docx" | "docm" | "dotx" | "dotm" => Format::Docx,
            "xlsx" | "xlsm" | "xltx" | "xltm" => Format::Xlsx,
            "pptx" | "pptm" | "potx" | "potm" | "ppsx" | "ppsm" => Format::Pptx,
            "odt" | "ott" => Format::Odt,
            "ods" | "ots" => Format::Ods,
            "odp" | "otp" => Format::Odp,
            "pdf" => Format::Pdf,
            "doc" | "dot" => Format::Doc,
            "xls" | "xlt" => Format::Xls,
            "ppt" | "pot" | "pps" => Format::Ppt,
            "rtf" => Format::Rtf,
            "txt" | "md" | "text" | "log" | "markdown" => Format::Text,
            "csv" | "tsv" => Format::Csv,
            "zip" => Format::Zip,
            _ => return None,
        })
    }
}
