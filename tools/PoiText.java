// Reference text of a Word/Excel/PowerPoint 97-2003 file through Apache POI
// (Debian's libapache-poi-java), for tools/fidelity.py, which compiles and
// runs it:  java -cp POI_JARS:DIR PoiText OUTDIR FILE...
// Each FILE (its extension says doc, xls or ppt) gives OUTDIR/NAME.txt, or
// OUTDIR/NAME.err with the exception when POI cannot read it.
//
// .doc: body, headers/footers, text boxes (WordExtractor.getText) and
// comments; Word 6/95 through Word6Extractor. .xls: every sheet, cell values
// as Excel shows them, comments, headers/footers, no sheet names (labelscan
// keeps them out of the text); Excel 5 and older through OldExcelExtractor.
// .ppt: slides, notes and comments.

import java.io.File;
import java.io.IOException;
import java.io.PrintStream;

import org.apache.poi.hslf.usermodel.HSLFSlideShow;
import org.apache.poi.hssf.OldExcelFormatException;
import org.apache.poi.hssf.extractor.ExcelExtractor;
import org.apache.poi.hssf.extractor.OldExcelExtractor;
import org.apache.poi.hssf.usermodel.HSSFWorkbook;
import org.apache.poi.hwpf.OldWordFileFormatException;
import org.apache.poi.hwpf.extractor.Word6Extractor;
import org.apache.poi.hwpf.extractor.WordExtractor;
import org.apache.poi.poifs.filesystem.POIFSFileSystem;
import org.apache.poi.sl.extractor.SlideShowExtractor;

public class PoiText {
    static String doc(File file) throws IOException {
        try (POIFSFileSystem fs = new POIFSFileSystem(file, true)) {
            try (WordExtractor w = new WordExtractor(fs)) {
                StringBuilder text = new StringBuilder(w.getText());
                for (String c : w.getCommentsText()) {
                    text.append('\n').append(c);
                }
                return text.toString();
            } catch (OldWordFileFormatException e) {
                try (Word6Extractor w = new Word6Extractor(fs)) {
                    return w.getText();
                }
            }
        }
    }

    static String xls(File file) throws IOException {
        try (POIFSFileSystem fs = new POIFSFileSystem(file, true)) {
            try (ExcelExtractor x = new ExcelExtractor(new HSSFWorkbook(fs.getRoot(), true))) {
                x.setIncludeSheetNames(false);
                x.setFormulasNotResults(false);
                x.setIncludeCellComments(true);
                x.setIncludeHeadersFooters(true);
                return x.getText();
            } catch (OldExcelFormatException e) {
                try (OldExcelExtractor x = new OldExcelExtractor(file)) {
                    return x.getText();
                }
            }
        }
    }

    @SuppressWarnings({"rawtypes", "unchecked"})
    static String ppt(File file) throws IOException {
        try (POIFSFileSystem fs = new POIFSFileSystem(file, true);
                HSLFSlideShow show = new HSLFSlideShow(fs)) {
            SlideShowExtractor x = new SlideShowExtractor(show);
            x.setSlidesByDefault(true);
            x.setNotesByDefault(true);
            x.setCommentsByDefault(true);
            return x.getText();
        }
    }

    static String text(File file) throws IOException {
        String name = file.getName();
        switch (name.substring(name.lastIndexOf('.') + 1).toLowerCase()) {
            case "doc": return doc(file);
            case "xls": return xls(file);
            case "ppt": return ppt(file);
            default: throw new IllegalArgumentException("not doc, xls or ppt: " + name);
        }
    }

    public static void main(String[] args) throws IOException {
        if (args.length < 2) {
            System.err.println("usage: PoiText OUTDIR FILE...");
            System.exit(2);
        }
        for (int i = 1; i < args.length; i++) {
            File file = new File(args[i]);
            String text;
            String suffix = ".txt";
            try {
                text = text(file);
            } catch (Throwable e) {
                text = e.toString();
                suffix = ".err";
            }
            try (PrintStream out = new PrintStream(new File(args[0], file.getName() + suffix), "UTF-8")) {
                out.print(text);
            }
        }
    }
}
